def read_file():
    with open("assets/data.txt") as f:
        return f.read()
