def read_file(path):
    content = ""
    with open(path) as f:
        for line in f:
            content += line
    return content
