-- Merged parcels (合并发货): one parcel may serve several orders of one customer. shipments.order_id stays the
-- order that registered the parcel first (its facts are what detection judges, its outreach task is the one
-- call); order_shipments lists every order a parcel serves, that first one included.
CREATE TABLE "order_shipments" (
	"order_id" bigint NOT NULL,
	"shipment_id" bigint NOT NULL,
	CONSTRAINT "order_shipments_pkey" PRIMARY KEY ("order_id", "shipment_id")
);
--> statement-breakpoint
CREATE INDEX "order_shipments_shipment_id_idx" ON "order_shipments" USING btree ("shipment_id");--> statement-breakpoint
INSERT INTO "order_shipments" ("order_id", "shipment_id") SELECT "order_id", "id" FROM "shipments";--> statement-breakpoint
-- Like shipment_schedule (0002): triggers instead of foreign keys keep the rows in step on every path (upsert,
-- COPY, a test's own INSERT) without a per-row check on the import path.
CREATE FUNCTION "shipments_order_links"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "order_shipments" ("order_id", "shipment_id") SELECT "order_id", "id" FROM "inserted" ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_order_links" AFTER INSERT ON "shipments" REFERENCING NEW TABLE AS "inserted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_order_links"();--> statement-breakpoint
CREATE FUNCTION "shipments_order_links_gone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "order_shipments" l USING "deleted" d WHERE l."shipment_id" = d."id";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_order_links_gone" AFTER DELETE ON "shipments" REFERENCING OLD TABLE AS "deleted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_order_links_gone"();--> statement-breakpoint
CREATE FUNCTION "orders_shipment_links_gone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "order_shipments" l USING "deleted" d WHERE l."order_id" = d."id";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "orders_shipment_links_gone" AFTER DELETE ON "orders" REFERENCING OLD TABLE AS "deleted"
  FOR EACH STATEMENT EXECUTE FUNCTION "orders_shipment_links_gone"();--> statement-breakpoint
CREATE FUNCTION "order_shipments_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "order_shipments";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_order_links_truncated" AFTER TRUNCATE ON "shipments"
  FOR EACH STATEMENT EXECUTE FUNCTION "order_shipments_truncated"();--> statement-breakpoint
CREATE TRIGGER "orders_shipment_links_truncated" AFTER TRUNCATE ON "orders"
  FOR EACH STATEMENT EXECUTE FUNCTION "order_shipments_truncated"();
