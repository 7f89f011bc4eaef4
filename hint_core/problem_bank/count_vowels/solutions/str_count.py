def count_vowels(s):
    lowered = s.lower()
    return sum(lowered.count(vowel) for vowel in "aeiou")
