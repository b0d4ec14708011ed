import asyncio

from contracts.service import serve

from agent_worker.app import setup
from agent_worker.config import Settings


def main() -> None:
    asyncio.run(serve("agent-worker", Settings(), setup))


if __name__ == "__main__":
    main()
