-- Cluster mode: the instance sending a lane. Set when an instance claims the lane, cleared when it lets the lane go; a lane
-- whose owner's instance lease has lapsed (the instance died) may be claimed by another. Null outside a cluster.
ALTER TABLE lanes ADD COLUMN owner TEXT NULL;
