"""What every handler shares: parameters, answers, middleware, uploads."""
