total = 0
while True:
    try:
        line = input()
    except EOFError:
        break
    line = line.strip()
    if line != "":
        total = total + int(line)
print(total)
