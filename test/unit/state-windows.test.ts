import { describe, expect, it } from 'vitest';
import { leadWindow, stricterStateOf } from '../../common/state-windows.js';

const evening = { start: '08:00', end: '21:00' };

describe('the window of a lead in a state that allows texts 08:00-20:00 only', () => {
  it('knows the states by area code, and no others', () => {
    expect(stricterStateOf('+13055550100')).toBe('Florida');
    expect(stricterStateOf('+18605550100')).toBe('Connecticut');
    expect(stricterStateOf('+14105550100')).toBe('Maryland');
    expect(stricterStateOf('+19185550100')).toBe('Oklahoma');
    expect(stricterStateOf('+12065550100')).toBe('Washington State');
    // Washington D.C., New York, Toronto, toll-free, and a UK number.
    for (const phone of ['+12025550100', '+12125550100', '+14165550100', '+18005550100', '+447700900123'])
      expect(stricterStateOf(phone)).toBeUndefined();
  });

  it('is the tenant’s within the state’s', () => {
    expect(leadWindow(evening, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
    expect(leadWindow({ start: '07:00', end: '24:00' }, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
    expect(leadWindow({ start: '09:30', end: '19:00' }, '+13055550100')).toEqual({ start: '09:30', end: '19:00' });
    expect(leadWindow(evening, '+12125550100')).toBe(evening);
    // No time in both: the law's hours, rather than a lead never texted.
    expect(leadWindow({ start: '20:30', end: '23:00' }, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
  });
});
