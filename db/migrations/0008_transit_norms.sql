-- Learned delivery norms (issue 15). A delivered parcel becomes one transit sample (collection → delivery,
-- with its origin and destination area); norms are percentiles of the samples per route, per carrier and
-- overall, recomputed by the refresh-norms job for the routes that got new samples.
CREATE TABLE "transit_pending" (
	"shipment_id" bigint PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transit_samples" (
	"shipment_id" bigint PRIMARY KEY NOT NULL,
	"carrier" text NOT NULL,
	"origin" text,
	"destination" text,
	"collected_at" timestamp with time zone NOT NULL,
	"delivered_at" timestamp with time zone NOT NULL,
	"hours" double precision NOT NULL
);
--> statement-breakpoint
CREATE INDEX "transit_samples_route_idx" ON "transit_samples" USING btree ("carrier","origin","destination","delivered_at");--> statement-breakpoint
CREATE INDEX "transit_samples_delivered_at_idx" ON "transit_samples" USING btree ("delivered_at");--> statement-breakpoint
CREATE TABLE "transit_norms" (
	"source" text NOT NULL,
	"carrier" text NOT NULL,
	"origin" text NOT NULL,
	"destination" text NOT NULL,
	"p50_hours" double precision NOT NULL,
	"p90_hours" double precision NOT NULL,
	"samples" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "transit_norms_pkey" PRIMARY KEY("source","carrier","origin","destination")
);
--> statement-breakpoint
-- The area (city, else province) named by a provider's location field: Kuaidi100 areaName "江苏,苏州市",
-- Kdniao/17TRACK "浙江省杭州市余杭区", the sandbox's "杭州市". Free text naming neither gives NULL: such a
-- parcel still counts for its carrier's and the global norm, never for a made-up route.
CREATE FUNCTION "parcelwatch_area"(loc text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    substring(loc from '([^[:space:],，省区]{2,8}?市)'),
    substring(loc from '([^[:space:],，]{2,6}?(?:省|自治区))'),
    substring(loc from '^[[:space:]]*(北京|上海|天津|重庆)') || '市')
$$;--> statement-breakpoint
-- Origin = area of the parcel's first located event; destination = area of its latest located event at the
-- delivery end (out for delivery, pickup point, failed attempt, delivered). In transit the destination is
-- often not known yet (NULL): then only the carrier's and the global norms apply.
CREATE FUNCTION "parcelwatch_route"(p_shipment bigint) RETURNS TABLE("origin" text, "destination" text) LANGUAGE sql STABLE AS $$
  SELECT
    (SELECT parcelwatch_area(e.location) FROM tracking_events e
      WHERE e.shipment_id = p_shipment AND parcelwatch_area(e.location) IS NOT NULL
      ORDER BY e.occurred_at, e.id LIMIT 1),
    (SELECT parcelwatch_area(e.location) FROM tracking_events e
      WHERE e.shipment_id = p_shipment AND parcelwatch_area(e.location) IS NOT NULL
        AND e.status IN ('out_for_delivery', 'at_pickup_point', 'failed_attempt', 'delivered')
      ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)
$$;--> statement-breakpoint
-- The norm that applies: the route's, else the carrier's, else the global one. At each level a learned norm
-- needs p_min samples; a seed (imported for a shop without history) stands in below that.
CREATE FUNCTION "parcelwatch_norm"(p_carrier text, p_origin text, p_destination text, p_min integer)
RETURNS TABLE("level" text, "source" text, "carrier" text, "origin" text, "destination" text, "p50_hours" double precision, "p90_hours" double precision, "samples" integer)
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN n.carrier = '*' THEN 'global' WHEN n.origin = '*' THEN 'carrier' ELSE 'route' END,
         n.source, n.carrier, n.origin, n.destination, n.p50_hours, n.p90_hours, n.samples
  FROM transit_norms n
  WHERE (n.source = 'seed' OR n.samples >= p_min)
    AND ((n.carrier = p_carrier AND n.origin = p_origin AND n.destination = p_destination)
      OR (n.carrier = p_carrier AND n.origin = '*' AND n.destination = '*')
      OR (n.carrier = '*' AND n.origin = '*' AND n.destination = '*'))
  ORDER BY CASE WHEN n.carrier = '*' THEN 3 WHEN n.origin = '*' THEN 2 ELSE 1 END, n.source = 'seed'
  LIMIT 1
$$;--> statement-breakpoint
-- A parcel signed for is queued for sampling (a row trigger that fires once per parcel, when delivered_at
-- is first set), so the refresh job reads exactly the new deliveries: no watermark that a transaction
-- committing late could slip under, and no scan of the delivered history.
CREATE FUNCTION "shipments_transit_pending"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "transit_pending" ("shipment_id") VALUES (NEW."id") ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_transit_pending_upd" AFTER UPDATE OF "delivered_at" ON "shipments"
  FOR EACH ROW WHEN (OLD."delivered_at" IS NULL AND NEW."delivered_at" IS NOT NULL) EXECUTE FUNCTION "shipments_transit_pending"();--> statement-breakpoint
CREATE TRIGGER "shipments_transit_pending_ins" AFTER INSERT ON "shipments"
  FOR EACH ROW WHEN (NEW."delivered_at" IS NOT NULL) EXECUTE FUNCTION "shipments_transit_pending"();--> statement-breakpoint
INSERT INTO "transit_pending" ("shipment_id") SELECT "id" FROM "shipments" WHERE "delivered_at" IS NOT NULL;
