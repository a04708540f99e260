-- A parcel that makes its whole poll job fail (a reply whose write breaks, a whole-request 5xx the provider gives
-- only for a batch holding that number) used to come back due with all its batch-mates, be batched with them
-- again and fail them every cycle. poll_failures counts the parcel's consecutive poll jobs failed for good (reset
-- by any poll answer written for it): plan-polls gives a parcel with failures a job of its own, and a parcel
-- that fails alone backs off exponentially (jobs/poll-tracking.ts onFailed). Not indexed, so the poll path's
-- update of the row stays HOT; a constant default adds the column without rewriting the table.
ALTER TABLE "shipment_schedule" ADD COLUMN "poll_failures" smallint DEFAULT 0 NOT NULL;
