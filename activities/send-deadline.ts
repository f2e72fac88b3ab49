/** When a message stops being worth sending, and what an attempt answers once it is. */
export interface SendDeadline<Outcome> {
  at: Date;
  /**
   * Soft: a late attempt leaves the row for a later one (the caller plans the send again). Hard: the message is
   * worthless after `at`: an unsent row is closed as missed. Either way Twilio is told to drop it at `at`
   * (ValidityPeriod), so a message its queue still holds then (a sender slower than its configured rate) does not go
   * out past it (a soft one: not more than a minute past it, and never past the lead's window as the send gate judged
   * it): a step after the lead's window, a reminder after the next one's time or the start. Twilio reports it failed
   * (30036).
   */
  hard: boolean;
  /** What an attempt past `at` answers when nothing went out. */
  outcomeWhenMissed: Outcome;
}

/** The skip reason of a row closed because its hard deadline passed before it went out. */
export const missedSkipReason = 'missed';

/** Twilio accepts ValidityPeriod from 1 s to 10 h (error 21624 outside that). */
const maxValiditySeconds = 36_000;

/** Whether `at` leaves no time to send at `now`: a hard deadline needs a second at least, Twilio's smallest ValidityPeriod. */
export const leavesNoTime = (at: Date, hard: boolean, now = Date.now()) => at.getTime() - now < (hard ? 1000 : 0);

export const isTooLate = (deadline: SendDeadline<unknown>) => leavesNoTime(deadline.at, deadline.hard);

/**
 * A soft deadline is one its run planned (a step's window as the run last knew it, or its enrollment's expiry): a step
 * that makes it in its last seconds may go out as long after it as the claim's lease already allows, rather than be
 * dropped by Twilio (30036) after the workflow counted it sent.
 */
const softValidityFloorSeconds = 60;

const wholeSecondsUntil = (at: Date) => Math.floor((at.getTime() - Date.now()) / 1000);

/**
 * How long Twilio may keep a message in its queue: until the deadline, within what Twilio accepts, and never past the
 * lead's window as the send gate judged it when it claimed the message (`windowClosesAt`, on this process's clock): a
 * run's deadline was planned with the zone and settings it last had, and a narrower window since (or another zone)
 * would otherwise let Twilio's queue hold the message past the lead's evening. A step has half a minute of that window
 * left at least by then: the gate claims none in its last minute, and an attempt calls Twilio within its claim's lease.
 */
export function validityPeriodSeconds(deadline: SendDeadline<unknown>, windowClosesAt?: Date): number {
  const untilDeadline = Math.max(deadline.hard ? 1 : softValidityFloorSeconds, wholeSecondsUntil(deadline.at));
  const untilClose = windowClosesAt ? wholeSecondsUntil(windowClosesAt) : maxValiditySeconds;
  return Math.max(1, Math.min(untilDeadline, untilClose, maxValiditySeconds));
}
