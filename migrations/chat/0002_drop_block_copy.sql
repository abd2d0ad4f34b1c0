-- Chat no longer keeps a copy of blocks from social's events: each write asks
-- social (the owner) directly, so a block holds from the moment it is made.
DROP TABLE blocks;
