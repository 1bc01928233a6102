import { scenarioSuite } from './scenario-suite';

scenarioSuite(6);
