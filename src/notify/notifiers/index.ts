/**
 * The one list of notifier types. Adding a notifier: write notifiers/<type>.ts with defineNotifier,
 * add it here. The config's schema, its *File secrets and path keys, its checks and the log
 * redaction all come from this list (through catalogOf).
 */
import type { z } from 'zod';
import { catalogOf } from '../catalog.js';
import { discordModule } from './discord.js';
import { mailModule } from './mail.js';
import { ntfyModule } from './ntfy.js';
import { slackModule } from './slack.js';
import { teamsModule } from './teams.js';
import { telegramModule } from './telegram.js';
import { webhookModule } from './webhook.js';
import { gotifyModule } from './gotify.js';
import { pushoverModule } from './pushover.js';
import { matrixModule } from './matrix.js';
import { scriptModule } from './script.js';

export const notifierModules = [
  mailModule, webhookModule, slackModule, ntfyModule, discordModule, teamsModule, telegramModule,
  gotifyModule, pushoverModule, matrixModule, scriptModule,
] as const;

export const notifierCatalog = catalogOf(notifierModules);

/** A `notifiers` entry of the config: the union of the modules' schemas. */
export const notifierSchema = notifierCatalog.schema;
export type NotifierConfig = z.output<typeof notifierSchema>;

export const createNotifier = notifierCatalog.create;
