"""The ground floor: shared types, configuration and profiles, cost accounting, result types.

Imports nothing else of vidrecall's; every other layer may import it.
"""
