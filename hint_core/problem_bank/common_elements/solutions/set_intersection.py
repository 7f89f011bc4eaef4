def common_elements(a, b):
    return list(set(a) & set(b))
