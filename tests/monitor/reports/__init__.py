"""What the store holds, as documents."""
