export { leadFollowUp } from './lead-follow-up.js';
