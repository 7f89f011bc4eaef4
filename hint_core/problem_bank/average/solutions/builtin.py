def average(numbers):
    if not numbers:
        return None
    return sum(numbers) / len(numbers)
