"""What every API shares: error shapes, microversions, request ids."""
