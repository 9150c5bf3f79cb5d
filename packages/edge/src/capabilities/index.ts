/**
 * The static list of edge capabilities, in the order their tools are listed. Adding a
 * capability means adding its file and one line here: no directory scanning, no import
 * side effects, so the list is greppable and the bundle tree-shakable.
 */
import type { Capability } from '../capability.ts';
import { commands } from './commands.ts';
import { docker } from './docker.ts';
import { env } from './env.ts';
import { files } from './files.ts';
import { gpio } from './gpio.ts';
import { network } from './network.ts';
import { packages } from './packages.ts';
import { power } from './power.ts';
import { smart } from './smart.ts';
import { status } from './status.ts';
import { systemd } from './systemd.ts';

export const capabilities: readonly Capability[] = [status, commands, files, env, systemd, smart, gpio, docker, network, packages, power];
