"""What the routes do, apart from HTTP: one implementation per action, whichever route asks."""
