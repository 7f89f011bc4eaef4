def average(numbers):
    if len(numbers) == 0:
        return None
    total = 0
    count = 0
    for x in numbers:
        total += x
        count += 1
    return total / count
