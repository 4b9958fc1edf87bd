"""The conductor: build orchestration and every database write on behalf of compute hosts."""
