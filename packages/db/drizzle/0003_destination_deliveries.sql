CREATE TABLE "deliveries" (
	"destination" text NOT NULL,
	"event_id" uuid NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "deliveries_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"action" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"leased_until" timestamp with time zone,
	"leased_by" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dead_at" timestamp with time zone,
	CONSTRAINT "deliveries_destination_event_id_pk" PRIMARY KEY("destination","event_id")
);
--> statement-breakpoint
CREATE TABLE "delivery_destinations" (
	"name" text PRIMARY KEY NOT NULL,
	"filter" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ordered" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "deliveries_pending_idx" ON "deliveries" USING btree ("destination","available_at","seq") WHERE "deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "deliveries_pending_seq_idx" ON "deliveries" USING btree ("destination","seq") WHERE "deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "deliveries_dead_idx" ON "deliveries" USING btree ("destination","dead_at") WHERE "deliveries"."status" = 'dead';