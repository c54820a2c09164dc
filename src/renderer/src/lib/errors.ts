/** The message of a thrown value: the one definition in src/shared, under the renderer's name. */
export { errorMessage as errMsg } from '../../../shared/errors.ts';
