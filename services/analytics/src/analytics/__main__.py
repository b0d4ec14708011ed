import asyncio

from analytics.app import setup
from analytics.config import Settings
from contracts.service import serve


def main() -> None:
    asyncio.run(serve("analytics", Settings(), setup))


if __name__ == "__main__":
    main()
