"""Use cases of the channel. They speak to storage through storage.base and to the outside through the API."""
