"""Concepts shared by every stage: errors, atomic I/O, video ids, time spans, timestamps, failures."""
