ALTER TABLE "api_keys" ADD COLUMN "hash_scheme" text DEFAULT 'sha256' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "fingerprint" text;--> statement-breakpoint
CREATE INDEX "api_keys_fingerprint_idx" ON "api_keys" USING btree ("fingerprint") WHERE "api_keys"."hash_scheme" = 'scrypt';