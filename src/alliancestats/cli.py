"""PLACEHOLDER command-line interface; replaced by the demo owner."""


def main(argv=None):  # PLACEHOLDER
    raise SystemExit("alliancestats demo is not implemented yet")
