def second_largest(numbers):
    if not numbers:
        return None
    biggest = max(numbers)
    smaller = [x for x in numbers if x != biggest]
    if not smaller:
        return None
    return max(smaller)
