"""Chat, compare and the other services the front ends share; the session is their composition root."""
