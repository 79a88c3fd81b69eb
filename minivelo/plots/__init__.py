"""Figures of the lessons: one module per lesson topic, one function per figure."""
