def word_frequencies(text):
    words = []
    for word in text.split():
        word = word.strip(".,!?;:").lower()
        if word:
            words.append(word)
    counts = {}
    for word in words:
        counts[word] = words.count(word)
    return counts
