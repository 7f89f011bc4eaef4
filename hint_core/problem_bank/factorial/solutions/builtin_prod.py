import math


def factorial(n):
    return math.prod(range(1, n + 1))
