import uvicorn

from contracts.logs import configure_logging
from gateway.app import build
from gateway.config import Settings


def main() -> None:
    settings = Settings()
    configure_logging("gateway", settings.log_level, settings.instance)
    uvicorn.run(build(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_keep_alive=settings.keep_alive_seconds)


if __name__ == "__main__":
    main()
