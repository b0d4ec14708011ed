import asyncio

from contracts.service import serve
from sentiment.app import setup
from sentiment.config import Settings


def main() -> None:
    asyncio.run(serve("sentiment", Settings(), setup))


if __name__ == "__main__":
    main()
