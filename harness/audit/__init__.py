"""Offline audit of a records-style submission: does its own evidence support its claim?"""
