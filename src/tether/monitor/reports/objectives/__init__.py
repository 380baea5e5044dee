"""An objective's history read from the store, bucket by bucket and hour by hour."""
