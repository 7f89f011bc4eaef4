def foo(a, b):
    return sum([a, b])
