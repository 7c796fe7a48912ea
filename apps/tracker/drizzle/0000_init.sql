CREATE SCHEMA IF NOT EXISTS "tracker";
--> statement-breakpoint
CREATE TABLE "tracker"."events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "tracker"."events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"host" text DEFAULT '' NOT NULL,
	"action" text NOT NULL,
	"outcome" text NOT NULL,
	"severity" text NOT NULL,
	"initiator_id" text NOT NULL,
	"initiator_name" text NOT NULL,
	"target_id" text NOT NULL,
	"target_name" text NOT NULL,
	"message" text NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "events_domain_time_idx" ON "tracker"."events" USING btree ("account_id","region","event_time" desc,"id" desc);--> statement-breakpoint
CREATE INDEX "events_seq_idx" ON "tracker"."events" USING btree ("seq");