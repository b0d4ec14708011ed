import asyncio

from contracts.service import serve
from postprocess.app import setup
from postprocess.config import Settings


def main() -> None:
    asyncio.run(serve("postprocess", Settings(), setup))


if __name__ == "__main__":
    main()
