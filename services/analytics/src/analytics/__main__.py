import asyncio

from contracts.service import serve

from analytics.app import setup
from analytics.config import Settings


def main() -> None:
    asyncio.run(serve("analytics", Settings(), setup))


if __name__ == "__main__":
    main()
