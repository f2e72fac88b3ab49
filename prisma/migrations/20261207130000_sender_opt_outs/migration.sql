-- A phone's opt-out from a sending number, whichever tenant texts from it: a STOP in the lead's own words to a shared
-- number must keep every tenant sending from that number off the phone, as Twilio's own block does for the keyword.
CREATE TABLE "sender_opt_outs" (
    "sender" TEXT NOT NULL,
    "phone_hash" TEXT NOT NULL,
    "message_sid" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sender_opt_outs_pkey" PRIMARY KEY ("sender", "phone_hash")
);
