import asyncio

from agent_worker.app import setup
from agent_worker.config import Settings
from contracts.service import serve


def main() -> None:
    asyncio.run(serve("agent-worker", Settings(), setup))


if __name__ == "__main__":
    main()
