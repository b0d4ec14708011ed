import asyncio

from call_router.app import setup
from call_router.config import Settings
from contracts.service import serve


def main() -> None:
    asyncio.run(serve("call-router", Settings(), setup))


if __name__ == "__main__":
    main()
