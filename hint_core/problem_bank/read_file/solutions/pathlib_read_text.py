from pathlib import Path


def read_file():
    return Path("assets/data.txt").read_text()
