def read_file():
    content = ""
    with open("assets/data.txt") as f:
        for line in f:
            content += line
    return content
