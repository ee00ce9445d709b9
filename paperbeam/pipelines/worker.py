"""Entry point of the direct runner's worker processes: Beam's SDK harness,
with its start-up and shut-down chatter kept off the user's console.

Beam's own worker command logs at INFO to stderr before it has read the
pipeline options, so every run printed a screen of harness messages. Here a
stderr handler for errors is installed first (so nothing else configures the
root logger); warnings and below still reach the driver through Beam's
logging channel, at the level the driver asked for.
"""

import logging
import sys


def main() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s (worker): %(message)s"))
    logging.getLogger().addHandler(handler)
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
