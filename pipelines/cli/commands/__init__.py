"""Click commands: each module holds one command (or group) and only parses options
and calls the library function that tests call directly."""
