"""The foundation every stage stands on: errors, the warehouse, money, SQL files, months, paths,
configuration, the run lock and logs. Imports nothing from the stages above it."""
