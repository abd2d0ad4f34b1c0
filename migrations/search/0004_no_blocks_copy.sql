-- Search asks social (the owner of blocks) at each search instead of keeping
-- a copy fed by events: a copy lags behind `blockUser`, and a block must hide
-- the other's documents from the moment it returns.
DROP TABLE blocks;
