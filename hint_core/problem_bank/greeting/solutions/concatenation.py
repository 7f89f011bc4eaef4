import sys

name = sys.stdin.readline().strip()
print("Hello, " + name + "!")
